"""Selling through links and hosted checkout: payment links, checkout sessions and the /pay/ pages."""
