# syntax=docker/dockerfile:1

# One image for every selfserve component: the entrypoint is the selfserve
# binary and the command picks the component (licensing, commerce, billing,
# gateway, dev or token). docker-compose.yaml runs one component per container.

# ---- build -----------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:1.26 AS build

WORKDIR /src

# The workspace needs every module it uses, so first copy only the workspace
# and module files: this layer, and the download below, stay cached until a
# dependency changes. The go.sum globs tolerate modules without dependencies.
COPY go.work go.work.sum* go.mod go.sum* ./
COPY gen/go.mod gen/go.sum* gen/
COPY services/kit/go.mod services/kit/go.sum* services/kit/
COPY services/licensing/go.mod services/licensing/go.sum* services/licensing/
COPY services/commerce/go.mod services/commerce/go.sum* services/commerce/
COPY services/billing/go.mod services/billing/go.sum* services/billing/
COPY services/gateway/go.mod services/gateway/go.sum* services/gateway/

RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# Then the sources.
COPY . .

ARG TARGETOS
ARG TARGETARCH
# VERSION names the release in "selfserve --version" (docker build --build-arg VERSION=v1.2.3).
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/selfserve ./cmd/selfserve

# The runtime image has no shell, so the directories the named volumes are
# mounted on are made here and copied in owned by the non-root user: a fresh
# named volume takes the owner of the directory it is first mounted on.
RUN mkdir -p /rootfs/data /rootfs/keys

# ---- fonts -----------------------------------------------------------------
# Chinese invoice PDFs embed a font with Chinese and Latin glyphs and TrueType
# outlines: WenQuanYi Micro Hei, from Debian, where billing looks for it.
FROM debian:trixie-slim AS fonts
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*

# ---- runtime ---------------------------------------------------------------
FROM gcr.io/distroless/static-debian13:nonroot

COPY --from=build --chown=65532:65532 /rootfs/ /
COPY --from=fonts /usr/share/fonts/truetype/wqy/wqy-microhei.ttc /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
COPY --from=fonts /usr/share/doc/fonts-wqy-microhei/copyright /usr/share/doc/fonts-wqy-microhei/copyright
COPY --from=build /out/selfserve /usr/local/bin/selfserve

USER 65532:65532
WORKDIR /data

# Defaults for a lone container (`docker run … selfserve dev`): data under
# /data and the gateway reachable from outside the container. The compose file
# sets every address explicitly.
ENV SELFSERVE_DATA_DIR=/data \
    SELFSERVE_HTTP_ADDR=0.0.0.0:8080

EXPOSE 8080 9101 9102 9103

ENTRYPOINT ["/usr/local/bin/selfserve"]
CMD ["dev"]
