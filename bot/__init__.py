"""Front ends: the `qa` command line and (later) the Slack app. They render and transport only."""
