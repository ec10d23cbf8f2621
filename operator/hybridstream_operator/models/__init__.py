"""Pure types of the operator: the custom resource (spec, status), what a reconcile pass
observes, and the actions a decision asks for. No I/O, no decisions."""
