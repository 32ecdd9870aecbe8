ARG OK=1
ENV NOT_OK=1
FROM localhost:5000/base:latest
