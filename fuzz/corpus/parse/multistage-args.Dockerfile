# BASE the base image
ARG BASE=localhost:5000/base:latest
ARG TAG
FROM ${BASE} AS Builder
ARG TAG
ARG PIP_INDEX=https://pypi.org/simple
RUN echo "$TAG $PIP_INDEX"
FROM builder AS test
FROM --platform=$BUILDPLATFORM localhost:5000/base:latest
COPY --from=builder /out /out
COPY --from=0 /out /out0
