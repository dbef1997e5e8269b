"""Plugin host, hook specifications, indicator API and the check runner."""
