"""Kubernetes access shared by the deploy backend and the runbook steps.

`client` builds the ApiClient (in-cluster, kubeconfig, or an explicit host) and turns
client-library failures into one error type; `operations` holds the runbook steps.
"""
