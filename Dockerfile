# The sim binary (`sim serve` by default) for docker-compose.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sim

FROM debian:bookworm-slim
COPY --from=build /src/target/release/sim /usr/local/bin/sim
EXPOSE 3000
ENTRYPOINT ["sim"]
CMD ["serve", "--addr", "0.0.0.0:3000"]
