# Build a static optix-bot and run it as a non-root user with the database
# on a volume.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/optix-bot . && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/optix-bot /usr/local/bin/optix-bot
# The volume directory must belong to the nonroot user (uid 65532) or bbolt cannot create the file.
COPY --from=build --chown=65532:65532 /out/data /data
# The roles file and context file are mounted at run time, e.g. -v ./roles.yaml:/etc/optix-bot/roles.yaml:ro
VOLUME ["/data"]
ENV OPTIX_BOT_DB=/data/optix-bot.db \
    OPTIX_BOT_LISTEN=0.0.0.0:8080
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/optix-bot"]
CMD ["serve", "--rbac", "/etc/optix-bot/roles.yaml"]
