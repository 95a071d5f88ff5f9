"""What every hosted page shares (checkout's /pay/ pages, the invoice pages): framing, CSP, tokens, i18n."""
