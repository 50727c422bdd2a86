"""Print-and-mail providers: one interface (`base.PostalProvider`), one adapter per provider."""
