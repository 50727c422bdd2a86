"""HTTP plumbing shared by the API functions: the resolver, the one error mapping, the principal."""
