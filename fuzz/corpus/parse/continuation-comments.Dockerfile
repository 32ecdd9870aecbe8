FROM localhost:5000/base:latest
# the comment lines and the blank line inside the RUN below are dropped
RUN echo one \
# a comment in the middle
    && echo two \

  # an indented comment
    && echo three
    ENV   SPACED="leading whitespace before the keyword"   
RUN echo "a trailing escaped backslash is not a continuation \\"
RUN echo tab-after-escape \	
    done
