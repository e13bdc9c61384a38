"""HTTP routes: parse, authorise, call one service, answer."""
