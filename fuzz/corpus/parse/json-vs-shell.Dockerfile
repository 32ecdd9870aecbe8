FROM localhost:5000/base:latest
CMD ["python", "-m", "app"]
CMD [ "spaces" , "inside" ]
CMD ['single', 'quotes', 'are', 'shell', 'form']
CMD ["unterminated"
ENTRYPOINT ["/entry.sh"] trailing text is ignored by the JSON decoder
RUN ["echo", "\u00e9\t\"escaped\""]
SHELL ["/bin/sh", "-ec"]
VOLUME ["/data", "/logs"]
VOLUME /a   /b
