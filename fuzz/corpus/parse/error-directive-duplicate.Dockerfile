# syntax=docker/dockerfile:1
# escape=`
# escape=`
FROM localhost:5000/base:latest
