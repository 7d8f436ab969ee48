"""What the endpoint runs: the served handler and the model package it ships in."""
