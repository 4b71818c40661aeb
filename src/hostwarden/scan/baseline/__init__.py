"""Baseline and compliance checks: policies as data (YAML or Wazuh SCA), evaluated under a root folder."""
