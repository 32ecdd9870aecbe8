# escape=`
FROM localhost:5000/base:latest
COPY C:\app\src C:\dst\
RUN echo one `
    two `
    three
RUN echo "backslash \ stays" && echo `$HOME ``
ENV WIN_PATH="C:\Program Files\app" `
    OTHER=`"quoted`"
WORKDIR C:\work
