"""``kubectl hsr dashboard``: the rollouts in a browser (views, reads, server)."""
