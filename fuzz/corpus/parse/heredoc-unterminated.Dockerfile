FROM localhost:5000/base:latest
RUN <<EOF
echo this never ends
EOF2
 EOF
