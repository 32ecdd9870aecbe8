FROM localhost:5000/base:latest
RUN <<EOF1 cat <<-'EOF2' 3<<"EOF3"
first $HOME
EOF1
	second $HOME
		still tabbed
	EOF2
third $HOME
EOF3
COPY <<app.conf <<-"raw.txt" /etc/
port=${PORT:-3000}
app.conf
	literal $PORT
	raw.txt
RUN echo "<<NOT_A_HEREDOC" && echo a<<b
RUN ["cat", "<<EOF"]
ADD --chmod=0644 <<ADDED /added
added body
ADDED
