FROM localhost:5000/base:latest
COPY --chmod=0755 --chwon=1000:1000 . /app
