# The rdc image: the CLI with the embedded default model, serving by default.
#   docker build -t rdc --build-arg RDC_COMMIT=$(git rev-parse HEAD) .
#   docker run -p 8080:8080 rdc                                   # the HTTP API on models/default
#   docker run -v $PWD/cifar:/data rdc attack --model models/default --limit 16 --out /results/run
# (the entry point is `rdc`: any command and its options follow the image name).
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS build
ENV CI=true
RUN npm install -g pnpm@12.4.2
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile \
 && pnpm build \
 && pnpm --filter @rdc/cli deploy --prod /app
# Keep only this platform's ONNX Runtime binaries (the package ships every platform's).
ARG TARGETARCH=amd64
RUN keep=$([ "$TARGETARCH" = arm64 ] && echo arm64 || echo x64) \
 && cd /app/node_modules/.pnpm/onnxruntime-node@*/node_modules/onnxruntime-node/bin/napi-v6 \
 && rm -rf darwin win32 \
 && find linux -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} + \
 && rm -rf /app/src /app/tsconfig*.json /app/vitest.config.ts

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG RDC_COMMIT=unknown
ENV NODE_ENV=production \
    RDC_COMMIT=${RDC_COMMIT} \
    RDC_DATA_DIR=/data \
    RDC_CACHE_DIR=/cache
WORKDIR /app
COPY --from=build --chown=node:node /app /app
COPY --chown=node:node models/default /app/models/default
RUN mkdir -p /data /cache /results && chown node:node /data /cache /results
USER node
EXPOSE 8080
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--model", "/app/models/default"]
