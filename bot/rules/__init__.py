"""Pure decisions: frozen facts in, a frozen decision out. No I/O and no await in this package."""
