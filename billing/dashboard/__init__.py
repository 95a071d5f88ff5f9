"""The dashboard's home page: what a merchant sees after logging in (numbers, chart, checklist).

A part of billing's of its own, on top of the others: it reads payments,
refunds, customers, products, links and webhook endpoints, and writes nothing.
"""
