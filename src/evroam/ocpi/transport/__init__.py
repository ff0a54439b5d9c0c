"""What every OCPI module shares: envelope, status codes, errors, authorisation, headers,
paging and the HTTP client."""
