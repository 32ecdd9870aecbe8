FROM localhost:5000/base:latest
ONBUILD RUN <<EOF
echo from onbuild
EOF
onbuild copy --chown=1000 . /app
