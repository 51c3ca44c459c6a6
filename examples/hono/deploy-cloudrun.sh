#!/usr/bin/env bash
# Deploys this example to Cloud Run: builds the repository's Containerfile for it, pushes the image
# to Artifact Registry and deploys a private service. The variables it reads (PROJECT, REGION,
# SERVICE, RUNTIME, PUBLIC=1, LOCAL_BUILD=1, DRY_RUN=1, …) are listed in ../deploy-cloudrun.sh.
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../deploy-cloudrun.sh" "$(basename "$here")" "$@"
