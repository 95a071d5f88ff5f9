"""What every hosted page shares (checkout's /pay/ pages now, invoice pages later): framing, CSP, tokens, i18n."""
