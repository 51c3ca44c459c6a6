#!/usr/bin/env bash
# Builds an example's container image from the repository's Containerfile, pushes it to
# Artifact Registry and deploys it to Cloud Run. It is the same image `wrangler deploy` ships to
# Cloudflare Containers. Without a command host the binding routes answer 503 on Cloud Run; with
# CF_CMD_ENDPOINT (the Worker's public route) and SECRET they use the Worker's bindings.
# Each example's own deploy-cloudrun.sh calls this script with its name.
#
#   PROJECT=my-project REGION=europe-west1 examples/hono/deploy-cloudrun.sh
#   PROJECT=my-project REGION=europe-west1 examples/deploy-cloudrun.sh hono
#
# PROJECT, REGION   default: gcloud's configured project and run/region
# SERVICE           Cloud Run service name (default: containerflare-<example>)
# RUNTIME           node, bun or deno (default: node)
# REPOSITORY        Artifact Registry repository, created when missing (default: containerflare)
# TAG               image tag (default: the git commit, else the time)
# PUBLIC=1          allow unauthenticated requests; by default the service requires IAM auth
# LOCAL_BUILD=1     build and push with a local docker (or CONTAINER_TOOL=podman) instead of Cloud Build
# CF_CMD_ENDPOINT   the Worker's signed route, https://<worker>/__containerflare/v1/commands
# SECRET            Secret Manager secret holding CONTAINERFLARE_SECRET (name[:version]; needs CF_CMD_ENDPOINT)
# DRY_RUN=1         print the commands instead of running them
set -euo pipefail

fail() {
  echo "deploy-cloudrun: $*" >&2
  exit 1
}

example=${1:-}
cd "$(dirname "$0")/.." # the build context: the repository root, where the Containerfile is
[ -n "$example" ] && [ -f "examples/$example/app.ts" ] || fail "usage: examples/deploy-cloudrun.sh <example> (one of: $(echo $(cd examples && ls -d */ | tr -d /)))"
run() {
  if [ "${DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "$@"
    echo
  else
    "$@"
  fi
}

[ "${DRY_RUN:-0}" = 1 ] || command -v gcloud >/dev/null || fail "gcloud is not installed (https://cloud.google.com/sdk/docs/install)"
PROJECT=${PROJECT:-$(gcloud config get-value project 2>/dev/null || true)}
REGION=${REGION:-$(gcloud config get-value run/region 2>/dev/null || true)}
[ -n "$PROJECT" ] || fail "no project: set PROJECT=my-project or run gcloud config set project my-project"
[ -n "$REGION" ] || fail "no region: set REGION=europe-west1 or run gcloud config set run/region europe-west1"
SERVICE=${SERVICE:-containerflare-$example}
RUNTIME=${RUNTIME:-node}
case "$RUNTIME" in node | bun | deno) ;; *) fail "RUNTIME=$RUNTIME: expected node, bun or deno" ;; esac
REPOSITORY=${REPOSITORY:-containerflare}
CF_CMD_ENDPOINT=${CF_CMD_ENDPOINT:-}
SECRET=${SECRET:-}
case "$CF_CMD_ENDPOINT" in "" | https://*) ;; *) fail "CF_CMD_ENDPOINT=$CF_CMD_ENDPOINT: expected the Worker's https:// route" ;; esac
[ -z "$CF_CMD_ENDPOINT" ] || [ -n "$SECRET" ] || fail "CF_CMD_ENDPOINT needs SECRET=<secret name> (CONTAINERFLARE_SECRET from Secret Manager)"
TAG=${TAG:-$(git rev-parse --short HEAD 2>/dev/null || date +%Y%m%d%H%M%S)}
registry="$REGION-docker.pkg.dev"
image="$registry/$PROJECT/$REPOSITORY/$SERVICE:$TAG"
build_args=(--platform linux/amd64 -f Containerfile --build-arg "APP=examples/$example/app.ts" --build-arg "RUNTIME=$RUNTIME" -t "$image" .)

[ "${DRY_RUN:-0}" = 1 ] && echo "# only when the repository does not exist yet:"
if [ "${DRY_RUN:-0}" = 1 ] || ! gcloud artifacts repositories describe "$REPOSITORY" --project "$PROJECT" --location "$REGION" >/dev/null 2>&1; then
  run gcloud artifacts repositories create "$REPOSITORY" --project "$PROJECT" --location "$REGION" --repository-format docker
fi

if [ "${LOCAL_BUILD:-0}" = 1 ]; then
  tool=${CONTAINER_TOOL:-docker}
  run gcloud auth configure-docker "$registry" --quiet
  run "$tool" build "${build_args[@]}"
  run "$tool" push "$image"
else
  # Cloud Build runs the same build remotely and pushes the image; nothing is built here.
  config=$(mktemp)
  trap 'rm -f "$config"' EXIT
  {
    echo "steps:"
    echo "  - name: gcr.io/cloud-builders/docker"
    printf '    args: ["build"'
    printf ', "%s"' "${build_args[@]}"
    echo "]"
    echo "images: [\"$image\"]"
  } >"$config"
  [ "${DRY_RUN:-0}" = 1 ] && sed 's/^/# /' "$config"
  run gcloud builds submit --project "$PROJECT" --region "$REGION" --config "$config" .
fi

access=--no-allow-unauthenticated
[ "${PUBLIC:-0}" = 1 ] && access=--allow-unauthenticated
env_vars="GOOGLE_CLOUD_PROJECT=$PROJECT"
secrets=()
if [ -n "$CF_CMD_ENDPOINT" ]; then
  env_vars="$env_vars,CF_CMD_ENDPOINT=$CF_CMD_ENDPOINT"
  case "$SECRET" in *:*) secrets=(--set-secrets "CONTAINERFLARE_SECRET=$SECRET") ;; *) secrets=(--set-secrets "CONTAINERFLARE_SECRET=$SECRET:latest") ;; esac
fi
run gcloud run deploy "$SERVICE" --project "$PROJECT" --region "$REGION" --image "$image" "$access" \
  --set-env-vars "$env_vars" "${secrets[@]}"
