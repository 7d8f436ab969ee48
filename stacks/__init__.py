"""Deployable units. Each stack only composes constructs from ``mlops_constructs``."""
