FROM localhost:5000/base:latest
CMD ["sleep", 10]
