"""The catalogue: products, prices and customers, in Stripe's shape. The bottom of billing: imports no other part."""
