"""Kubernetes access shared by the deploy backend, the runbook steps and the timers' leader.

`client` builds the ApiClient (in-cluster, kubeconfig, or an explicit host) and turns
client-library failures into one error type; `operations` holds the runbook steps;
`lease` reads and writes the coordination.k8s.io Lease the timers' leader is chosen by.
"""
