//! The generated 50-stage, 1,000-instruction Dockerfile the convert benchmark measures and
//! the golden test pins (every instruction kind, stage references through FROM,
//! COPY --from and RUN --mount=from).

pub const STAGES: usize = 50;
pub const INSTRUCTIONS: usize = 1_000;

/// `STAGES` stages of `INSTRUCTIONS / STAGES` instructions each (FROM included).
pub fn generated_dockerfile() -> String {
    let mut out = String::from("# syntax=docker/dockerfile:1\nARG BASE=localhost:5000/base:latest\nARG VERSION=1.0\n");
    let per_stage = INSTRUCTIONS / STAGES;
    for s in 0..STAGES {
        match s {
            0 => out.push_str("FROM ${BASE} AS s0\n"),
            s if s % 5 == 0 => out.push_str(&format!("FROM s{} AS s{s}\n", s - 1)),
            _ => out.push_str(&format!("FROM --platform=$BUILDPLATFORM ${{BASE}} AS s{s}\n")),
        }
        for i in 1..per_stage {
            let line = match i % 19 {
                1 => "ARG VERSION".to_string(),
                2 => format!("ENV STAGE=s{s} PATH=$PATH:/opt/s{s}/bin"),
                3 => format!("WORKDIR /work/s{s}"),
                4 => format!("RUN echo \"building s{s} v$VERSION\" > /work/s{s}/version"),
                5 => format!("COPY --chown=1000:1000 --chmod=0644 src/s{s}/ ./src/"),
                6 => "RUN --mount=type=cache,target=/root/.cache,id=pip --mount=type=tmpfs,target=/tmp make -j2".to_string(),
                7 if s > 0 => format!("COPY --from=s{} /work/s{}/version /deps/s{}", s - 1, s - 1, s - 1),
                8 if s > 0 => format!("RUN --mount=type=bind,from=s{},source=/work,target=/prev ls /prev > /prev-list", s - 1),
                9 => format!("LABEL stage=s{s} org.example.version=$VERSION"),
                10 => "EXPOSE 8000 9000/udp".to_string(),
                11 => "USER 1000:1000".to_string(),
                12 => "RUN --network=none [\"/bin/sh\", \"-c\", \"id > /tmp/id\"]".to_string(),
                13 => "USER root".to_string(),
                14 => format!("ADD --link files/s{s}.tar.gz /opt/s{s}/"),
                15 => "HEALTHCHECK --interval=30s --timeout=3s CMD wget -q -O- http://localhost:8000/ || exit 1".to_string(),
                16 => "ENTRYPOINT [\"/bin/sh\", \"-c\"]".to_string(),
                17 => "CMD [\"serve\"]".to_string(),
                18 => "RUN <<EOF\nset -e\necho heredoc\nEOF".to_string(),
                _ => format!("COPY *.txt /work/s{s}/txt/"),
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
