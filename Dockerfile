# Build stage: compile TypeScript.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The client library is a workspace: npm ci needs its manifest, the root build compiles it.
COPY clients/node/package.json ./clients/node/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY clients/node/tsconfig.json ./clients/node/
COPY clients/node/src ./clients/node/src
RUN npm run build && npm prune --omit=dev

# Runtime stage: only the built code and production dependencies.
FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=9000 HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 9000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthcheck').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# A larger young generation: entries of a body live until it is stored (bench/README.md, GC).
CMD ["node", "--max-semi-space-size=32", "--initial-old-space-size=128", "--enable-experimental-regexp-engine", "--enable-experimental-regexp-engine-on-excessive-backtracks", "--regexp-backtracks-before-fallback=1000", "dist/main.js"]
