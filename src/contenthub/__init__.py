"""contenthub: publish articles to many platforms, reliably."""
