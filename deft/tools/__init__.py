"""Classical recognizers (identity gallery, manipulation check) that an agent can call as tools."""
