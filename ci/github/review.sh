#!/usr/bin/env bash
# The GitHub Action's review step: workflow-command annotations on the
# pull request's lines, SARIF for code scanning, exit status by --fail-on.
# Environment: PVSCAN_BASE (revision), PVSCAN_ABIS (space-separated), PVSCAN_FAIL_ON.
set -euo pipefail
base="${PVSCAN_BASE:?set PVSCAN_BASE to the revision to compare with}"
abi_args=()
for abi in ${PVSCAN_ABIS:-}; do abi_args+=(--abi "$abi"); done
git diff --no-color --no-ext-diff "$base"...HEAD > pvscan.diff
# pvscan never writes into the tree it reviews; the report goes to the
# checkout (where upload-sarif reads it) by the shell's redirection.
pvscan review --tree . "${abi_args[@]}" --format sarif --fail-on never pvscan.diff > pvscan.sarif
pvscan review --tree . "${abi_args[@]}" --format github --fail-on "${PVSCAN_FAIL_ON:-error}" pvscan.diff
