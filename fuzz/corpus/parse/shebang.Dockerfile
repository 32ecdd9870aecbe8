#!/usr/bin/env -S buildctl build
# escape=`
FROM localhost:5000/base:latest
RUN echo `
  continued
