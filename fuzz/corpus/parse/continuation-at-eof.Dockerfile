FROM localhost:5000/base:latest
RUN echo last \