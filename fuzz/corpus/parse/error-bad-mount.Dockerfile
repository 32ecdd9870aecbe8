FROM localhost:5000/base:latest
ENV A=1
RUN --mount=type=cache,target=/root/.cache,sharing=exclusive \
    pip install -r requirements.txt
USER nobody
