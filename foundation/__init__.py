"""Plumbing every app shares and no app owns: the API error shape, compiled reads, enqueueing
tasks after commit, which errors mean a neighbour (Redis, the broker) is down, log formatting,
counted words. Nothing in this package imports an app of the project."""
