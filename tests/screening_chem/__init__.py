"""Tests of the pure screening chemistry (standardize, filters, similarity) on real molecules."""
