"""Pure decisions: analysis verdicts, the routing handover, the phase machine, resource
builders, the CRD. Nothing here awaits, opens a socket or talks to Kubernetes."""
