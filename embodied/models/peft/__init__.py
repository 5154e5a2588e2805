"""peft: importing this package registers every family in it."""
