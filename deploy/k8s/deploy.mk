# Container images and Kubernetes manifests; included by the root Makefile (uses PY, VENV,
# UV_VERSION from it). docs/deploy.md describes the deployment.

K8S_DIR := deploy/k8s
CHART_DIR := $(K8S_DIR)/helm/realtimekit
# Every service with a Dockerfile gets an image named realtime-<service>.
IMAGE_SERVICES := $(patsubst services/%/Dockerfile,%,$(wildcard services/*/Dockerfile))
# Registry prefix with a trailing slash (e.g. IMAGE_REGISTRY=ghcr.io/acme/); empty for local images.
IMAGE_REGISTRY ?=
# Defaults to the chart's appVersion, the tag the chart deploys.
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' $(CHART_DIR)/Chart.yaml)
DOCKER ?= docker
DOCKER_BUILD_ARGS ?=

.PHONY: images manifests manifests-check $(addprefix image-,$(IMAGE_SERVICES))

images: $(addprefix image-,$(IMAGE_SERVICES)) ## build realtime-<service> images (docker; IMAGE_REGISTRY, IMAGE_TAG)

$(addprefix image-,$(IMAGE_SERVICES)): image-%:
	$(DOCKER) build --file services/$*/Dockerfile --build-arg UV_VERSION=$(UV_VERSION) \
		--tag $(IMAGE_REGISTRY)realtime-$*:$(IMAGE_TAG) $(DOCKER_BUILD_ARGS) .

manifests: bootstrap ## render deploy/k8s/manifests (kubectl apply -k) from the Helm chart
	$(PY) $(K8S_DIR)/render.py manifests

manifests-check: bootstrap ## fail when deploy/k8s/manifests drifts from the Helm chart
	$(PY) $(K8S_DIR)/render.py manifests --check
