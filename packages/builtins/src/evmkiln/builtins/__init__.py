"""Host callouts, their gas rules and the one signature table every backend consumes."""
