"""The dashboard's words in English and Chinese; the language comes from a cookie the
switch sets, else the browser's Accept-Language."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("en", "zh")
COOKIE = "chub_lang"

# key: (English, 中文)
MESSAGES: dict[str, tuple[str, str]] = {
    "app": ("contenthub", "contenthub"),
    "nav.tasks": ("Tasks", "任务"),
    "nav.articles": ("Articles", "文章"),
    "nav.accounts": ("Accounts", "账号"),
    "nav.settings": ("Settings", "设置"),
    "nav.menu": ("Main menu", "主菜单"),
    "sign_in": ("Sign in", "登录"),
    "sign_out": ("Sign out", "退出"),
    "username": ("User name", "用户名"),
    "password": ("Password", "密码"),
    "login.failed": ("Wrong user name or password.", "用户名或密码错误。"),
    "login.limited": (
        "Too many failed attempts; try again in {seconds} s.",
        "失败次数过多，请 {seconds} 秒后再试。",
    ),
    "login.expired": ("Please sign in again.", "请重新登录。"),
    "language": ("Language", "语言"),
    "lang.other": ("中文", "English"),
    "csrf.refused": (
        "This form has expired; reload the page and try again.",
        "表单已失效，请刷新页面后重试。",
    ),
    "not_found": ("Not found", "未找到"),
    "not_found.text": ("There is nothing here for you.", "这里没有你的内容。"),
    "back": ("Back", "返回"),
    # tasks
    "tasks.title": ("Task monitor", "任务监控"),
    "tasks.live": ("Live", "实时"),
    "tasks.offline": ("Reconnecting…", "正在重连…"),
    "tasks.empty": (
        "No tasks yet. Publish an article to start.",
        "还没有任务。发布一篇文章开始吧。",
    ),
    "tasks.more": ("Older tasks", "更早的任务"),
    "filter": ("Filter", "筛选"),
    "filter.clear": ("Clear", "清除"),
    "filter.any": ("Any", "全部"),
    "status": ("Status", "状态"),
    "platform": ("Platform", "平台"),
    "account": ("Account", "账号"),
    "batch": ("Batch", "批次"),
    "since": ("Created after", "创建晚于"),
    "until": ("Created before", "创建早于"),
    "title": ("Title", "标题"),
    "progress": ("Progress", "进度"),
    "attempt": ("Attempt", "尝试"),
    "created": ("Created", "创建于"),
    "finished": ("Finished", "完成于"),
    "task.reviewed": ("Review ended", "审核结束于"),
    "task.url_in_review": ("Will be at", "审核通过后位于"),
    "task.in_review_note": (
        "The platform accepted the post and holds it for review; it is not public yet. A "
        "review_check job records when it goes live, or why the review refused it.",
        "平台已接收文章，正在审核，尚未公开。"
        "review_check 任务会记录它何时上线，或审核未通过的原因。",
    ),
    "due": ("Due", "计划于"),
    "actions": ("Actions", "操作"),
    "cancel": ("Cancel", "取消"),
    "retry": ("Retry", "重试"),
    "cancel_batch": ("Cancel the batch", "取消整批"),
    "retry_batch": ("Retry the batch", "重试整批"),
    "batch.done": (
        "{changed} changed, {skipped} skipped.",
        "已处理 {changed} 个，跳过 {skipped} 个。",
    ),
    "open": ("Open", "打开"),
    "published_link": ("View post", "查看文章"),
    "task.title": ("Task", "任务"),
    "task.screenshots": ("What the page showed when the step failed", "步骤失败时页面的截图"),
    "task.screenshot_alt": ("Screenshot {n} of the failed browser step", "失败步骤截图 {n}"),
    "task.timeline": ("Timeline", "时间线"),
    "task.error": ("Error", "错误"),
    "task.url": ("Published at", "发布地址"),
    "task.no_events": ("No events yet.", "暂无事件。"),
    "event.at": ("Time", "时间"),
    "event.reason": ("What happened", "事件"),
    "event.message": ("Message", "信息"),
    "status.scheduled": ("scheduled", "已计划"),
    "status.queued": ("queued", "排队中"),
    "status.running": ("running", "运行中"),
    "status.in_review": ("in review", "审核中"),
    "status.succeeded": ("succeeded", "成功"),
    "status.failed": ("failed", "失败"),
    "status.cancelled": ("cancelled", "已取消"),
    # articles
    "articles.title": ("Articles", "文章"),
    "articles.new": ("New article", "新建文章"),
    "articles.empty": ("No articles yet.", "还没有文章。"),
    "articles.search": ("Search titles", "搜索标题"),
    "search": ("Search", "搜索"),
    "prev": ("Previous", "上一页"),
    "next": ("Next", "下一页"),
    "page_of": ("Page {page} of {pages}", "第 {page} / {pages} 页"),
    "body": ("Body (Markdown)", "正文（Markdown）"),
    "tags": ("Tags (comma separated)", "标签（逗号分隔）"),
    "cover": ("Cover image URL", "封面图片地址"),
    "save": ("Save", "保存"),
    "saved": ("Saved.", "已保存。"),
    "updated": ("Updated", "更新于"),
    "edit": ("Edit", "编辑"),
    "preview": ("Preview", "预览"),
    "preview.as": ("Preview as", "预览平台"),
    "preview.generic": ("Generic HTML", "通用 HTML"),
    "preview.warnings": ("This platform cannot take", "该平台无法显示"),
    "task.warnings": ("Left out on the platform", "平台上未能保留的内容"),
    "preview.rules_ok": (
        "{platform} takes this article as it is.",
        "{platform} 可直接发布这篇文章。",
    ),
    "attachments": ("Images", "图片"),
    "attachments.hint": (
        "Images the body refers to by a path, e.g. ![photo](img/photo.png): every platform "
        "gets them uploaded.",
        "正文按路径引用的图片，例如 ![photo](img/photo.png)：发布时上传到每个平台。",
    ),
    "attachments.file": ("Image file", "图片文件"),
    "attachments.name": (
        "Path in the body (default: the file's name)",
        "正文中的路径（默认：文件名）",
    ),
    "attachments.upload": ("Upload", "上传"),
    "publish": ("Publish", "发布"),
    "publish.title": ("Publish “{title}”", "发布《{title}》"),
    "publish.targets": ("Target accounts", "目标账号"),
    "publish.no_accounts": ("Bind an account first.", "请先绑定账号。"),
    "publish.when": ("When", "时间"),
    "publish.now": ("Now", "立即"),
    "publish.at": ("At a set time", "定时"),
    "publish.time": ("Time in your time zone", "时间（按你的时区）"),
    "publish.priority": ("Priority (higher runs first)", "优先级（越高越先）"),
    "publish.limit": ("At most {n} new tasks a minute.", "每分钟最多 {n} 个新任务。"),
    "close": ("Close", "关闭"),
    "health.active": ("active", "正常"),
    "health.needs_login": ("needs login", "需要登录"),
    "health.unknown": ("never checked", "未检查"),
    "health.disabled": ("disabled", "已停用"),
    # accounts
    "accounts.title": ("Accounts", "账号"),
    "accounts.bind": ("Bind an account", "绑定账号"),
    "accounts.empty": ("No accounts yet.", "还没有账号。"),
    "accounts.name": ("Account name", "账号名称"),
    "accounts.waiting": ("{n} waiting to publish", "{n} 个发布在等待"),
    "accounts.check": ("Check login now", "立即检查登录"),
    "accounts.checked": ("Login check: {status}", "登录检查：{status}"),
    "accounts.relogin": ("Log in again", "重新登录"),
    "accounts.cookies": (
        "Paste cookies (Cookie header or JSON)",
        "粘贴 Cookie（Cookie 头或 JSON）",
    ),
    "accounts.cookie_file": (
        "…or upload a cookie file (storage state, JSON list or cookies.txt)",
        "…或上传 Cookie 文件（storage state、JSON 列表或 cookies.txt）",
    ),
    "accounts.relogged": ("Credentials stored; the account is active.", "凭据已保存，账号已恢复。"),
    "accounts.default": ("default", "默认"),
    "accounts.make_default": ("Make default", "设为默认"),
    "accounts.now_default": (
        "Now the default {platform} account: the old API's publishes (/api/publish_zhihu) go here.",
        "已设为默认 {platform} 账号：旧接口（/api/publish_zhihu）的发布发到这里。",
    ),
    "blogin.title": ("Log in on the platform's page", "在平台登录页登录"),
    "blogin.qr": ("Log in with QR code", "扫码登录"),
    "blogin.with_password": ("Log in with password", "用密码登录"),
    "blogin.username": ("{platform} user name", "{platform} 用户名"),
    "blogin.password": ("{platform} password", "{platform} 密码"),
    "blogin.remember": (
        "Remember the password (encrypted) to log in again by itself",
        "记住密码（加密保存），过期时自动重新登录",
    ),
    "blogin.need_username": ("give the user name (none is stored)", "请填写用户名（未保存过）"),
    "blogin.opening": ("Opening the login page …", "正在打开登录页……"),
    "blogin.by_password": ("Logging in with the password …", "正在用密码登录……"),
    "blogin.scan": (
        "Scan this code with the {platform} app to log in:",
        "请用 {platform} App 扫描此二维码登录：",
    ),
    "blogin.qr_alt": ("{platform} login QR code", "{platform} 登录二维码"),
    "blogin.qr_refreshes": (
        "The code follows the platform's page: when it replaces it, the new one shows here.",
        "二维码与平台登录页同步：平台刷新后这里会显示新的二维码。",
    ),
    "blogin.ended.active": ("Logged in; the account is active.", "登录成功，账号已恢复。"),
    "blogin.ended.needs_login": (
        "The platform wants you to act on its own site",
        "平台要求你在其网站上完成验证",
    ),
    "blogin.ended.unchanged": ("Not logged in", "未登录"),
    "blogin.broke": ("The login stopped", "登录中断"),
    "blogin.screenshot": ("What the login page showed", "登录页当时的截图"),
    "accounts.cookie_title": ("Or paste cookies", "或粘贴 Cookie"),
    "accounts.pacing": ("Pacing", "节奏"),
    "accounts.min_interval": ("Seconds between publishes", "两次发布间隔（秒）"),
    "accounts.daily_cap": ("Daily cap (empty: none)", "每日上限（留空为不限）"),
    "accounts.options": ("Options", "选项"),
    "accounts.credentials": ("Credentials", "凭据"),
    "accounts.bound": ("Account bound.", "账号已绑定。"),
    "accounts.identity": ("Logged in as {who}", "登录身份：{who}"),
    "accounts.choose_platform": ("Choose a platform", "选择平台"),
    # statistics
    "nav.stats": ("Statistics", "统计"),
    "stats.title": ("Statistics", "统计"),
    "stats.range": ("Range", "时间范围"),
    "stats.days": ("{n} days", "{n} 天"),
    "stats.tasks": ("Tasks ended", "已结束任务"),
    "stats.success_rate": ("Success rate", "成功率"),
    "stats.p50": ("Duration p50", "耗时 p50"),
    "stats.p95": ("Duration p95", "耗时 p95"),
    "stats.queue": ("Waiting in the queue", "排队中"),
    "stats.over_time": ("Outcomes per day (UTC)", "每日结果（UTC）"),
    "stats.per_platform": ("Outcomes per platform", "各平台结果"),
    "stats.reasons": ("Failure reasons", "失败原因"),
    "stats.none": ("Nothing ended in this range.", "此范围内没有结束的任务。"),
    "count": ("Count", "次数"),
    # scheduled jobs
    "nav.jobs": ("Schedules", "定时任务"),
    "jobs.title": ("Scheduled jobs", "定时任务"),
    "jobs.empty": ("No scheduled jobs.", "还没有定时任务。"),
    "jobs.new": ("New scheduled job", "新建定时任务"),
    "jobs.type": ("Job type", "任务类型"),
    "jobs.schedule": ("Schedule", "计划"),
    "jobs.interval": ("Every N seconds", "每隔 N 秒"),
    "jobs.interval_seconds": ("Interval (seconds)", "间隔（秒）"),
    "jobs.cron": ("Cron expression (min hour day month weekday)", "Cron 表达式（分 时 日 月 周）"),
    "jobs.timezone": ("Time zone", "时区"),
    "jobs.params": ("Parameters (JSON)", "参数（JSON）"),
    "jobs.enabled": ("Enabled", "启用"),
    "jobs.create": ("Create the job", "创建任务"),
    "jobs.preview": ("Next 5 runs", "接下来 5 次运行"),
    "jobs.every": ("every {n} s", "每 {n} 秒"),
    "jobs.next_run": ("Next run", "下次运行"),
    "jobs.last_run": ("Last run", "上次运行"),
    "jobs.run_now": ("Run now", "立即运行"),
    "jobs.enable": ("Enable", "启用"),
    "jobs.disable": ("Disable", "停用"),
    "jobs.disabled": ("disabled", "已停用"),
    "jobs.history": ("Run history", "运行历史"),
    "jobs.no_runs": ("No runs yet.", "还没有运行记录。"),
    "jobs.started": ("Started", "开始于"),
    "jobs.trigger": ("Triggered by", "触发方式"),
    "jobs.result": ("Result", "结果"),
    # publish pool
    "nav.pool": ("Pool", "发布池"),
    "pool.title": ("Publish pool", "发布池"),
    "pool.empty": ("The pool is empty.", "发布池是空的。"),
    "pool.add": ("Add to the pool", "加入发布池"),
    "pool.help": (
        "The publishing job releases due entries to every active account, most urgent first.",
        "定时发布任务会把到期的条目发布到所有正常账号，优先级高的先发。",
    ),
    "pool.priority": ("Priority", "优先级"),
    "pool.article": ("Article", "文章"),
    "pool.retries": ("Retries", "重试"),
    "pool.change": ("Change", "修改"),
    "pool.pending": ("pending", "待发布"),
    "pool.publishing": ("publishing", "发布中"),
    "pool.published": ("published", "已发布"),
    "pool.failed": ("failed", "失败"),
    "pool.cancelled": ("cancelled", "已取消"),
    # administration
    "nav.admin": ("Admin", "管理"),
    "admin.title": ("Administration", "管理"),
    "admin.all_tasks": ("Every user's tasks", "所有用户的任务"),
    "admin.users": ("Users", "用户"),
    "admin.role": ("Role", "角色"),
    "admin.new_user": ("New user", "新建用户"),
    "admin.make_admin": ("Administrator", "管理员"),
    "admin.create_user": ("Create the user", "创建用户"),
    "admin.limits": ("Platform limits", "平台并发上限"),
    "admin.limits_help": (
        "At most this many publishes at once per platform, across every worker (empty: none).",
        "每个平台同时运行的发布数上限，跨所有 worker（留空为不限）。",
    ),
    # settings
    "settings.title": ("Settings", "设置"),
    "tokens.title": ("API tokens", "API 令牌"),
    "tokens.name": ("Token name", "令牌名称"),
    "tokens.create": ("Create a token", "创建令牌"),
    "tokens.shown_once": (
        "Copy it now: it is shown only once.",
        "请立即复制：它只显示这一次。",
    ),
    "tokens.empty": ("No tokens.", "没有令牌。"),
    "tokens.revoke": ("Revoke", "吊销"),
    "tokens.revoked": ("revoked", "已吊销"),
    "tokens.last_used": ("Last used", "最近使用"),
    "sessions.title": ("Signed-in sessions", "登录会话"),
    "sessions.this": ("this one", "当前会话"),
    "sessions.everywhere": ("Sign out everywhere", "在所有设备退出"),
    "sessions.address": ("Address", "地址"),
    "never": ("never", "从未"),
    "name": ("Name", "名称"),
}


def language_of(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def translator(lang: str) -> Callable[..., str]:
    column = 1 if lang == "zh" else 0

    def t(key: str, **values: object) -> str:
        words = MESSAGES.get(key)
        text = words[column] if words else key
        return text.format(**values) if values else text

    return t
