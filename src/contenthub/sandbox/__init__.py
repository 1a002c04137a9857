"""The platform sandbox: a loopback HTTP server that answers like each supported platform, with
switches for the faults real platforms produce. See ``server`` for how to start it."""
