FROM localhost:5000/base:latest AS 2fast
