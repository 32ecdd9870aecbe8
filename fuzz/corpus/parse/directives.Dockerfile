# syntax=docker/dockerfile:1.4
# ESCAPE = `
# check=skip=JSONArgsRecommended
# a plain comment ends the directive block
# escape=\
# syntax=ignored/now-a-comment
FROM localhost:5000/base:latest
RUN echo `
  continued
