FROM localhost:5000/base:latest
WORKDIR /app
COPPY . /app
RUN true
